"""voxseal: a secure real-time voice gateway for AI calls.

The gateway routes end-to-end encrypted voice between callers and AI agents; it authenticates,
authorises and audits every access so operators can prove compliance.
"""

__version__ = "0.1.0"
