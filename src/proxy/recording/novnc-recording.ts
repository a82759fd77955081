// The websockify / noVNC playback format as a RecordingFormat (the encoding is in novnc-format.ts).
import type { RecordingFormat } from './format.js';
import { NOVNC_HEADER, NOVNC_TRAILER, novncFrame } from './novnc-format.js';

export function novncRecording(inputs: boolean): RecordingFormat {
  return {
    header: NOVNC_HEADER,
    trailer: NOVNC_TRAILER,
    readsClient: false,
    toClient: (ms, bytes) => novncFrame(true, ms, bytes),
    fromClient: (ms, bytes) => (inputs ? novncFrame(false, ms, bytes) : null),
  };
}
