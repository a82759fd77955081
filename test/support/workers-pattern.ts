// The bytes of the test plugin's streamed messages: a function of producer,
// message number and offset, so a client can check every byte and tell
// whose message it is (byte 0 is the producer).
export function patternByte(producer: number, m: number, offset: number): number {
  return offset === 0 ? producer : (producer * 131 + m * 17 + offset * 7 + (offset >>> 8)) & 0xff;
}
