// faceprint console: AWS Signature Version 4 in the browser, and the one function
// every call goes through. WebCrypto's HMAC-SHA256 and SHA-256 sign each request
// exactly as an AWS SDK does; WebCrypto exists only over HTTPS or on localhost.

const REGION = "us-east-1";
const CONTENT_TYPE = "application/x-amz-json-1.1";
const encoder = new TextEncoder();
// Credentials and the clock correction, set by the page (setCredentials).
const session = { keyId: "", secret: "", clockOffsetMs: 0 };

export function setCredentials(keyId, secret) {
  session.keyId = keyId;
  session.secret = secret;
}

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// -- AWS Signature Version 4 ------------------------------------------------------
const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (bytes) => hex(await crypto.subtle.digest("SHA-256", bytes));

async function hmac(key, text) {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, encoder.encode(text));
}

/** The request headers, Authorization included, for a POST / of `body` (bytes). */
async function signedHeaders({ keyId, secret, service, target, body, now }) {
  const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, ""); // 20261129T120000Z
  const day = amzDate.slice(0, 8);
  const payloadHash = await sha256(body);
  const headers = {
    "amz-sdk-invocation-id": crypto.randomUUID(), // unique per call: the server refuses replays
    "content-type": CONTENT_TYPE,
    host: location.host,
    "x-amz-content-sha256": payloadHash,
    "x-amz-date": amzDate,
    "x-amz-target": target,
  };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${String(headers[n]).trim().replace(/\s+/g, " ")}\n`).join("");
  const signed = names.join(";");
  const canonicalRequest = ["POST", "/", "", canonicalHeaders, signed, payloadHash].join("\n");
  const scope = `${day}/${REGION}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256(encoder.encode(canonicalRequest))].join("\n");
  let key = encoder.encode(`AWS4${secret}`);
  for (const part of [day, REGION, service, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, stringToSign));
  delete headers.host; // the browser sends Host itself, with this same value
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${keyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`;
  return headers;
}

/** Call `Prefix.Operation` with `params`; resolves to the response body or throws ApiError. */
export async function call(target, params = {}, retried = false) {
  const service = target.startsWith("FaceprintService.") ? "faceprint" : "rekognition";
  const body = encoder.encode(JSON.stringify(params));
  const now = new Date(Date.now() + session.clockOffsetMs);
  const headers = await signedHeaders({ keyId: session.keyId, secret: session.secret, service, target, body, now });
  let response;
  try {
    response = await fetch("/", { method: "POST", headers, body, credentials: "omit", cache: "no-store" });
  } catch (err) {
    throw new ApiError("NetworkError", `could not reach the faceprint server (${err.message})`);
  }
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(`HTTP ${response.status}`, text.slice(0, 300) || response.statusText, response.status);
  }
  if (response.ok) return data;
  const code = String(data.__type || data.Code || `HTTP ${response.status}`).split("#").pop();
  const message = data.message || data.Message || response.statusText;
  const serverTime = Date.parse(response.headers.get("date") || "");
  if (!retried && /signature expired/i.test(message) && !Number.isNaN(serverTime)) {
    session.clockOffsetMs = serverTime - Date.now(); // this computer's clock is off: sign with the server's
    return call(target, params, true);
  }
  throw new ApiError(code, message, response.status);
}

