// Docker multiplexes stdout/stderr of a non-TTY container into frames with an 8-byte header
// (stream, 0, 0, 0, size as uint32 BE). Strip the headers to get the text back.
export function demuxLogs(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    if (kind !== 0 && kind !== 1 && kind !== 2) return buf.toString("utf8"); // not multiplexed (TTY)
    const size = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}
