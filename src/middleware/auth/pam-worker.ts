/**
 * One PAM conversation, in its own Worker thread (pam_authenticate blocks: shadow files,
 * unix_chkpwd, LDAP/SSSD round trips, and the modules' failure delay). libpam is called through
 * bun:ffi; the conversation function is a JSCallback that answers PAM's prompts: the password
 * for PAM_PROMPT_ECHO_OFF, the user name for PAM_PROMPT_ECHO_ON, and it collects the text of
 * PAM_ERROR_MSG / PAM_TEXT_INFO. Answers are malloc'ed (libpam frees them with free()).
 *
 * The failure delay that modules ask for (pam_unix: 2 s, pam_faildelay: as configured) is not
 * slept here: PAM_FAIL_DELAY is set to a callback that records it, and the main thread waits
 * that long without blocking anything before it answers a failed login.
 *
 * The password arrives as a transferred Uint8Array and is zeroed here after use, as are the
 * copies this file makes in C memory (libpam's modules overwrite their own before freeing).
 */
import { CString, JSCallback, dlopen, ptr, read, toArrayBuffer, type Pointer } from "bun:ffi";

export interface PamRequest {
  service: string;
  user: string;
  password: Uint8Array;
  rhost: string;
}

export interface PamReply {
  ok: boolean;
  /** PAM's return code of the step that failed (0 on success). */
  pamCode: number;
  /** pam_strerror of that code. */
  pamText: string;
  step: "start" | "authenticate" | "account" | "done";
  /** The account name PAM settled on (modules may canonicalise it). */
  user: string;
  /** Microseconds of failure delay the modules asked for. */
  delayUs: number;
  /** PAM_ERROR_MSG and PAM_TEXT_INFO texts (for the log; never shown verbatim to a stranger). */
  messages: string[];
}

const PAM_SUCCESS = 0;
const PAM_CONV_ERR = 19;
const PAM_BUF_ERR = 5;
const PAM_USER = 2;
const PAM_RHOST = 4;
const PAM_FAIL_DELAY = 10;
const PAM_DISALLOW_NULL_AUTHTOK = 0x0001;
const PAM_SILENT = 0x8000;
const PAM_PROMPT_ECHO_OFF = 1;
const PAM_PROMPT_ECHO_ON = 2;
const PAM_ERROR_MSG = 3;
const PAM_TEXT_INFO = 4;
const PTR = 8;

function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

function openPam() {
  const names = ["libpam.so.0", "libpam.so"];
  let lastErr: unknown;
  for (const name of names) {
    try {
      return dlopen(name, {
        pam_start: { args: ["ptr", "ptr", "ptr", "ptr"], returns: "i32" },
        pam_end: { args: ["ptr", "i32"], returns: "i32" },
        pam_authenticate: { args: ["ptr", "i32"], returns: "i32" },
        pam_acct_mgmt: { args: ["ptr", "i32"], returns: "i32" },
        pam_set_item: { args: ["ptr", "i32", "ptr"], returns: "i32" },
        pam_get_item: { args: ["ptr", "i32", "ptr"], returns: "i32" },
        pam_strerror: { args: ["ptr", "i32"], returns: "ptr" },
      });
    } catch (err) {
      lastErr = err;
    }
  }
  throw new Error(`cannot load libpam (Debian package libpam0g): ${lastErr instanceof Error ? lastErr.message : lastErr}`);
}

function openLibc() {
  return dlopen("libc.so.6", {
    calloc: { args: ["usize", "usize"], returns: "ptr" },
    free: { args: ["ptr"], returns: "void" },
  });
}

/** Copies bytes into fresh calloc'ed C memory (NUL-terminated); null when out of memory. */
function cCopy(libc: ReturnType<typeof openLibc>, bytes: Uint8Array): Pointer | null {
  const p = libc.symbols.calloc(bytes.length + 1, 1) as Pointer | null;
  if (!p) return null;
  new Uint8Array(toArrayBuffer(p, 0, bytes.length + 1)).set(bytes);
  return p;
}

export function authenticate(req: PamRequest): PamReply {
  const pam = openPam();
  const libc = openLibc();
  const userBytes = new TextEncoder().encode(req.user);
  const messages: string[] = [];
  let delayUs = 0;

  // int conv(int num_msg, const struct pam_message **msg, struct pam_response **resp, void *appdata)
  const conv = new JSCallback(
    (n: number, msg: Pointer, resp: Pointer): number => {
      if (n <= 0 || n > 32 || !msg || !resp) return PAM_CONV_ERR;
      // struct pam_response { char *resp; int resp_retcode; } = 16 bytes each.
      const arr = libc.symbols.calloc(n, 16) as Pointer | null;
      if (!arr) return PAM_BUF_ERR;
      const view = new DataView(toArrayBuffer(arr, 0, n * 16));
      const answered: Pointer[] = [];
      const fail = (code: number) => {
        for (const p of answered) {
          // Overwrite before free: these may hold the password.
          const len = new CString(p).length;
          new Uint8Array(toArrayBuffer(p, 0, len + 1)).fill(0);
          libc.symbols.free(p);
        }
        libc.symbols.free(arr);
        return code;
      };
      for (let i = 0; i < n; i++) {
        // Linux-PAM: msg points to an array of n pointers to struct pam_message { int style; const char *msg; }.
        const m = read.ptr(msg, i * PTR) as Pointer;
        if (!m) return fail(PAM_CONV_ERR);
        const style = read.i32(m, 0);
        const textPtr = read.ptr(m, 8) as Pointer;
        const text = textPtr ? new CString(textPtr).toString() : "";
        let answer: Uint8Array | null = null;
        if (style === PAM_PROMPT_ECHO_OFF) answer = req.password;
        else if (style === PAM_PROMPT_ECHO_ON) answer = userBytes;
        else if (style === PAM_ERROR_MSG || style === PAM_TEXT_INFO) messages.push(text.slice(0, 200));
        else return fail(PAM_CONV_ERR);
        if (answer) {
          const p = cCopy(libc, answer);
          if (!p) return fail(PAM_BUF_ERR);
          answered.push(p);
          view.setBigUint64(i * 16, BigInt(p as unknown as number), true);
        }
      }
      new DataView(toArrayBuffer(resp, 0, PTR)).setBigUint64(0, BigInt(arr as unknown as number), true);
      return PAM_SUCCESS;
    },
    { args: ["i32", "ptr", "ptr", "ptr"], returns: "i32" },
  );
  // void delay(int retval, unsigned usec_delay, void *appdata): record, do not sleep.
  const delay = new JSCallback(
    (rv: number, usec: number) => {
      // libpam calls it after every pam_authenticate; only a failure asks for a delay.
      if (rv !== PAM_SUCCESS) delayUs = Math.max(delayUs, usec >>> 0);
    },
    { args: ["i32", "u32", "ptr"], returns: "void" },
  );

  // struct pam_conv { conv fn; void *appdata_ptr; }
  const convStruct = new BigUint64Array([BigInt(conv.ptr as unknown as number), 0n]);
  const handleOut = new BigUint64Array(1);
  const service = cstr(req.service);
  const user = cstr(req.user);
  const rhost = cstr(req.rhost);
  let handle: Pointer | null = null;
  let last = PAM_SUCCESS;
  const reply = (ok: boolean, step: PamReply["step"], code: number): PamReply => {
    let pamText = "";
    if (code !== PAM_SUCCESS) {
      const t = pam.symbols.pam_strerror(handle, code);
      pamText = t ? new CString(t).toString() : `PAM error ${code}`;
    }
    let settled = req.user;
    if (ok && handle) {
      const out = new BigUint64Array(1);
      if (pam.symbols.pam_get_item(handle, PAM_USER, ptr(out)) === PAM_SUCCESS && out[0]) settled = new CString(Number(out[0]) as unknown as Pointer).toString();
    }
    return { ok, pamCode: code, pamText, step, user: settled, delayUs, messages };
  };
  try {
    last = pam.symbols.pam_start(ptr(service), ptr(user), ptr(convStruct), ptr(handleOut));
    handle = handleOut[0] ? (Number(handleOut[0]) as unknown as Pointer) : null;
    if (last !== PAM_SUCCESS || !handle) return reply(false, "start", last || PAM_BUF_ERR);
    pam.symbols.pam_set_item(handle, PAM_RHOST, ptr(rhost));
    pam.symbols.pam_set_item(handle, PAM_FAIL_DELAY, delay.ptr);
    last = pam.symbols.pam_authenticate(handle, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
    if (last !== PAM_SUCCESS) return reply(false, "authenticate", last);
    last = pam.symbols.pam_acct_mgmt(handle, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
    if (last !== PAM_SUCCESS) return reply(false, "account", last);
    return reply(true, "done", PAM_SUCCESS);
  } finally {
    if (handle) pam.symbols.pam_end(handle, last);
    req.password.fill(0);
    conv.close();
    delay.close();
    pam.close();
    libc.close();
  }
}

// As a Worker: one request, one reply, then the thread ends.
declare const self: { onmessage: ((e: MessageEvent<PamRequest>) => void) | null; postMessage(m: unknown): void } | undefined;
if (typeof self !== "undefined" && typeof (globalThis as { document?: unknown }).document === "undefined" && !Bun.isMainThread) {
  self!.onmessage = (e) => {
    let out: PamReply | { error: string };
    try {
      out = authenticate(e.data);
    } catch (err) {
      e.data.password?.fill?.(0);
      out = { error: err instanceof Error ? err.message : String(err) };
    }
    self!.postMessage(out);
  };
}
