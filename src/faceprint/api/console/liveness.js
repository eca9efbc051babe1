// The browser side of a liveness session: show the server's challenge, record the
// camera while the person performs it, send the frames once, show the verdict.
import { ApiError, call, setCredentials } from "./api.js";

const FPS = 10;
const WORDS = {
  BLINK: "Blink",
  OPEN_MOUTH: "Open your mouth",
  TURN_LEFT: "Turn your head to your left",
  TURN_RIGHT: "Turn your head to your right",
};
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function status(text) {
  $("status").textContent = text;
}

async function frameOf(video, canvas) {
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.8));
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function run() {
  $("start").disabled = true;
  $("result").hidden = true;
  const video = $("camera");
  try {
    status("Starting the camera...");
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    await video.play();
    const { SessionId } = await call("RekognitionService.CreateFaceLivenessSession", { Settings: { AuditImagesLimit: 0 } });
    const challenge = await call("FaceprintService.GetLivenessChallenge", { SessionId });
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth || 640;
    canvas.height = video.videoHeight || 480;
    const frames = [];
    const started = performance.now();
    const slot = (challenge.TimeLimitMillis - 2000) / challenge.Actions.length;
    $("prompt").textContent = "Look at the camera";
    status(`Recording: ${challenge.Actions.length} actions`);
    while (performance.now() - started < challenge.TimeLimitMillis) {
      const t = performance.now() - started;
      const step = Math.floor((t - 1000) / slot);
      $("prompt").textContent = t < 1000 ? "Look at the camera" : WORDS[challenge.Actions[Math.min(step, challenge.Actions.length - 1)]];
      frames.push({ Bytes: await frameOf(video, canvas), TimestampMillis: Math.round(t) });
      await sleep(Math.max(0, 1000 / FPS - (performance.now() - started - t)));
    }
    $("prompt").textContent = "";
    status(`Checking ${frames.length} frames...`);
    const put = await call("FaceprintService.PutLivenessFrames", { SessionId, Frames: frames });
    if (put.Status === "FAILED") {
      status(`The check could not be made: ${put.FailureReason}. Try again.`);
      return;
    }
    const result = await call("RekognitionService.GetFaceLivenessSessionResults", { SessionId });
    $("verdict").textContent = result.Confidence >= 50 ? "Live" : "Not confirmed as live";
    $("confidence").textContent = result.Confidence.toFixed(0);
    if (result.ReferenceImage) $("reference").src = `data:image/jpeg;base64,${result.ReferenceImage.Bytes}`;
    $("result").hidden = false;
    status("");
  } catch (err) {
    const code = err instanceof ApiError ? err.code : err.name;
    status(`${code}: ${err.message}`);
  } finally {
    for (const track of video.srcObject ? video.srcObject.getTracks() : []) track.stop();
    video.srcObject = null;
    $("start").disabled = false;
  }
}

const keyId = sessionStorage.getItem("faceprint.accessKeyId");
const secret = sessionStorage.getItem("faceprint.secretAccessKey");
if (!keyId || !secret) {
  $("signin-needed").hidden = false;
  $("start").disabled = true;
} else {
  setCredentials(keyId, secret);
  $("start").addEventListener("click", run);
}
