// Reading an upstream answer's body (OpenID Connect endpoints, Microsoft Graph) up to a size limit: the answer is
// hostile input like any other, so a body past the limit is not read to its end. Each caller turns "too large"
// into its own refusal.

/** The body's bytes, or null when it is larger than `max` bytes (the rest is then not read). */
export async function readAtMost(res: Response, max: number): Promise<Buffer<ArrayBuffer> | null> {
  const reader = res.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.length;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
}
