// vnc.html's furniture, apart from the session: the control bar that hides
// behind its handle, the panels that open beside it (one at a time), and the
// settings form, whose fields name their setting in data-setting.

const $ = (id) => document.getElementById(id);
const PANELS = ['keys', 'power', 'clipboard', 'settings'];
const BAR_HIDDEN = 'wsgate.novnc.bar_hidden';

export class ControlBar {
  #focusScreen;

  /** `focusScreen`: gives the keyboard back to the remote screen when a panel closes. */
  constructor(focusScreen) {
    this.#focusScreen = focusScreen;
    for (const name of PANELS) $(`${name}-button`).addEventListener('click', () => this.toggle(name));
    document.querySelector('#settings-panel details').addEventListener('toggle', () => this.#place('settings'));
    window.addEventListener('resize', () => PANELS.filter((name) => !$(`${name}-panel`).hidden).forEach((name) => this.#place(name)));
    $('bar-handle').addEventListener('click', () => this.#show(document.body.classList.contains('bar-hidden')));
    let hidden = false;
    try {
      hidden = localStorage.getItem(BAR_HIDDEN) === 'true';
    } catch {
      /* storage disabled */
    }
    this.#show(!hidden);
  }

  close(name) {
    $(`${name}-panel`).hidden = true;
    $(`${name}-button`).setAttribute('aria-expanded', 'false');
  }

  toggle(name) {
    const open = $(`${name}-panel`).hidden;
    for (const other of PANELS) this.close(other);
    if (!open) return this.#focusScreen();
    $(`${name}-panel`).hidden = false;
    $(`${name}-button`).setAttribute('aria-expanded', 'true');
    this.#place(name);
    if (name === 'clipboard') $('clipboard-text').focus();
  }

  /** Level with its button, but inside the window (a panel taller than the window scrolls). */
  #place(name) {
    const panel = $(`${name}-panel`);
    const top = $(`${name}-button`).getBoundingClientRect().top - 8;
    panel.style.top = `${Math.max(8, Math.min(top, window.innerHeight - panel.offsetHeight - 8))}px`;
  }

  #show(shown) {
    document.body.classList.toggle('bar-hidden', !shown);
    $('bar-handle').setAttribute('aria-expanded', String(shown));
    $('bar-handle').title = shown ? 'Hide the control bar' : 'Show the control bar';
    if (!shown) for (const name of PANELS) this.close(name);
    try {
      localStorage.setItem(BAR_HIDDEN, String(!shown));
    } catch {
      /* storage disabled */
    }
  }
}

/** Shows each setting in its field and sets it when the field changes. */
export function bindSettingsForm(settings) {
  for (const input of document.querySelectorAll('[data-setting]')) {
    const name = input.dataset.setting;
    const show = () => {
      const value = settings.get(name);
      if (input.type === 'checkbox') input.checked = value;
      else input.value = String(value);
      const output = document.querySelector(`[data-shows="${name}"]`);
      if (output) output.textContent = String(value);
    };
    show();
    const changed = () => {
      settings.set(name, input.type === 'checkbox' ? input.checked : input.value);
      show(); // an invalid value goes back to the current one
    };
    input.addEventListener('change', changed);
    if (input.type === 'range') input.addEventListener('input', changed);
  }
  $('host-setting').placeholder = location.hostname;
  $('port-setting').placeholder = location.port || (location.protocol === 'https:' ? '443' : '80');
}
