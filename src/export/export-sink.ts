import type { Writable } from "node:stream";
import type { ExportSink } from "./exporter-types.js";

/**
 * A sink onto a Node stream that waits for 'drain' when the stream's buffer is full (text for the
 * exporters, bytes for archives).
 */
export function writableSink(stream: Writable): (chunk: string | Buffer) => void | Promise<void> {
  return (chunk) => {
    if (stream.write(chunk)) return;
    return new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        stream.off("error", onError);
        resolve();
      };
      const onError = (err: Error): void => {
        stream.off("drain", onDrain);
        reject(err);
      };
      stream.once("drain", onDrain);
      stream.once("error", onError);
    });
  };
}

/** A sink collecting everything into one string (tests, small runs). */
export function stringSink(): { sink: ExportSink; text: () => string } {
  const parts: string[] = [];
  return { sink: (chunk) => void parts.push(chunk), text: () => parts.join("") };
}

/**
 * Gathers many small pieces into chunks of about `chunkSize` characters before handing them to the
 * sink, so exporters can write record by record without one sink call per record.
 */
export class ChunkedWriter {
  private parts: string[] = [];
  private size = 0;

  constructor(
    private readonly sink: ExportSink,
    private readonly chunkSize = 64 * 1024,
  ) {}

  /** Queue `text`; resolves after a flush when the chunk is full (await it to honour backpressure). */
  write(text: string): void | Promise<void> {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= this.chunkSize) return this.flush();
  }

  async flush(): Promise<void> {
    if (this.size === 0 && this.parts.length === 0) return;
    const chunk = this.parts.join("");
    this.parts = [];
    this.size = 0;
    await this.sink(chunk);
  }
}
