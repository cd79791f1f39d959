// A terminal as the exec-tty extension carries it: its size, and later sizes as the user resizes
// the window. The client sends it, the server passes it to a backend.

export interface TerminalSize {
  rows: number;
  cols: number;
}

export interface Terminal extends TerminalSize {
  /** Registers for the terminal's later sizes, as the user resizes the window (the last listener registered gets them). */
  onResize?: (listener: (size: TerminalSize) => void) => void;
}
