"""Identity tests (a package so module names cannot collide with other components' tests)."""
