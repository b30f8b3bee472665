// Delivery marks on our own chat lines (✓ delivered, "not delivered").
//
// The reply to `send_message`, which tells the page a line's id, and the events Channel,
// which carries that line's receipt, are separate paths: on loopback the receipt can
// arrive first. A mark for an id the page does not show yet is kept (at most `limit`,
// oldest dropped first) and applied when the line appears. A failure wins over a
// delivery, so a line that missed one peer stays visibly failed.
"use strict";

window.PeerchatMarks = class DeliveryMarks {
  constructor(limit = 256) {
    this.limit = limit;
    this.lines = new Map(); // line id -> its <li>
    this.early = new Map(); // line id -> mark that came before its line
  }

  // A line of ours is shown: remember it, and apply a mark that came first.
  attach(id, li) {
    this.lines.set(id, li);
    const m = this.early.get(id);
    if (m) {
      this.early.delete(id);
      this.apply(li, m);
    }
  }

  // The line left the log (trimmed): forget it.
  detach(id) {
    this.lines.delete(id);
  }

  clear() {
    this.lines.clear();
    this.early.clear();
  }

  // mark = { state: "delivered" | "failed", text, title }
  mark(id, m) {
    if (!id) return;
    const li = this.lines.get(id);
    if (li) {
      this.apply(li, m);
      return;
    }
    const prev = this.early.get(id);
    if (prev && prev.state === "failed") return;
    this.early.delete(id);
    this.early.set(id, m);
    while (this.early.size > this.limit) {
      this.early.delete(this.early.keys().next().value);
    }
  }

  apply(li, m) {
    if (li.dataset.delivery === "failed") return;
    li.dataset.delivery = m.state;
    const status = li.querySelector(".msg-status");
    if (status) {
      status.textContent = m.text;
      status.title = m.title;
    }
  }
};
