// Protocol constants shared by the page side (key_agreement.js) and the worker side (worker_keys.js),
// kept apart so a worker bundle does not pull in HPKE and the signature schemes.
import { te } from "./bytes.js";

/** SFrame metadata (authenticated, not sent) that keeps data messages apart from audio. */
export const DATA_METADATA = te.encode("voxseal/data/v1");
