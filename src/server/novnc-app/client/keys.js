// Keys a browser keeps for itself or a touch screen lacks: Ctrl, Alt and
// Windows held down by a toggle, Tab, Esc and Ctrl+Alt+Del sent on a click;
// and the on-screen keyboard, which a touch device shows only for a focused
// text field, so a hidden one is focused and what is typed into it is sent
// as key presses.
import KeyTable from '../core/input/keysym.js';
import keysyms from '../core/input/keysymdef.js';
import { getKeysym } from '../core/input/util.js';

export const MODIFIERS = {
  ctrl: { keysym: KeyTable.XK_Control_L, code: 'ControlLeft' },
  alt: { keysym: KeyTable.XK_Alt_L, code: 'AltLeft' },
  windows: { keysym: KeyTable.XK_Super_L, code: 'MetaLeft' },
};

export const SINGLE_KEYS = {
  tab: { keysym: KeyTable.XK_Tab, code: 'Tab' },
  esc: { keysym: KeyTable.XK_Escape, code: 'Escape' },
};

/** Which modifiers are held down, and their buttons' pressed state. */
export class ModifierToggles {
  #held = new Set();
  #getRfb;
  #buttons;

  /** `buttons`: modifier name -> its toggle button. */
  constructor(getRfb, buttons) {
    this.#getRfb = getRfb;
    this.#buttons = buttons;
    for (const [name, button] of Object.entries(buttons)) button.addEventListener('click', () => this.toggle(name));
  }

  toggle(name) {
    const rfb = this.#getRfb();
    if (!rfb) return;
    const { keysym, code } = MODIFIERS[name];
    const down = !this.#held.has(name);
    rfb.sendKey(keysym, code, down);
    if (down) this.#held.add(name);
    else this.#held.delete(name);
    this.#buttons[name].setAttribute('aria-pressed', String(down));
  }

  /** Lets every held modifier go (sent when still connected), e.g. before a disconnect. */
  releaseAll() {
    for (const name of [...this.#held]) {
      if (this.#getRfb()) this.toggle(name);
      else this.#held.delete(name);
      this.#buttons[name].setAttribute('aria-pressed', 'false');
    }
  }
}

/**
 * The hidden field behind the on-screen keyboard. Characters arrive as
 * `input` events (a touch keyboard's key events carry no useful key), and are
 * sent as keysyms; Enter, Backspace and the like arrive as keydown and are
 * sent as theirs. The field is emptied after each event, so nothing collects.
 */
export function attachTouchKeyboard(input, getRfb) {
  const send = (keysym, code = 'Unidentified') => getRfb()?.sendKey(keysym, code);
  input.addEventListener('keydown', (e) => {
    if (e.key.length === 1 || e.isComposing || e.key === 'Unidentified' || e.key === 'Process') return; // text comes via `input`
    const keysym = getKeysym(e);
    if (keysym === null) return;
    e.preventDefault();
    send(keysym, e.code);
  });
  input.addEventListener('input', (e) => {
    if (e.isComposing || e.inputType === 'insertCompositionText') return; // sent at compositionend
    if (e.inputType === 'deleteContentBackward') send(KeyTable.XK_BackSpace, 'Backspace');
    else if (e.inputType === 'insertLineBreak' || e.inputType === 'insertParagraph') send(KeyTable.XK_Return, 'Enter');
    else for (const ch of e.data ?? '') send(ch === '\n' ? KeyTable.XK_Return : keysyms.lookup(ch.codePointAt(0)));
    // A sentinel character keeps Backspace producing events on keyboards that stop at an empty field.
    input.value = '_';
  });
  input.addEventListener('compositionend', (e) => {
    for (const ch of e.data ?? '') send(keysyms.lookup(ch.codePointAt(0)));
    input.value = '_';
  });
  input.value = '_';
}
