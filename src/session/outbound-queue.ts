// A FIFO with O(1) push/shift for the messages that wait while a streamed
// message holds the connection. Array#shift is O(n), which matters when
// thousands of small messages queue behind one large stream.
// The array is made on first use: most sessions never queue anything.
const EMPTY: never[] = [];

export class Fifo<T> {
  #items: Array<T | undefined> = EMPTY;
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    if (this.#items === EMPTY) this.#items = [];
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
