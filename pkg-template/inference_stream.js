// The async iterator of streamed answers (`for await (const chunk of stream)`).
// The wasm constructs it around a source of chunks (`pull`, `cancel`):
// pulls are serialised, and `return()` (a `break` out of the loop) cancels the
// request and closes its connection.
export class InferenceStream {
  #source;
  #tail = Promise.resolve();
  #done = false;

  constructor(source) {
    this.#source = source;
  }

  next() {
    const result = this.#tail.then(async () => {
      if (this.#done) return { done: true, value: undefined };
      let value;
      try {
        value = await this.#source.pull();
      } catch (error) {
        this.#done = true;
        throw error;
      }
      if (value === undefined) {
        this.#done = true;
        return { done: true, value: undefined };
      }
      return { done: false, value };
    });
    this.#tail = result.catch(() => {});
    return result;
  }

  return(value) {
    if (!this.#done) {
      this.#done = true;
      this.#source.cancel();
    }
    return Promise.resolve({ done: true, value });
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}
