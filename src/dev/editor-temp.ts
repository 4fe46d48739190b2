/**
 * Names editors and tools write next to a file while saving it, never meant as a change:
 * vim's write probe `4913` and swap files (`.x.swp`, `.x.swx`, `.x.swo`…), backups `x~`, Emacs
 * lock links `.#x`, `sed -i`'s `sedXXXXXX` and write-then-rename `*.tmp` files. A save storm
 * that outlasts one debounce window would otherwise deliver them as changes (and a swap file
 * lives as long as the buffer is open).
 */
const EDITOR_TEMP = [
  /^4913$/,
  /^\..*\.sw[a-p]$/,
  /\.sw[px]$/,
  /~$/,
  /^\.#/,
  /^sed[A-Za-z0-9]{6}$/,
  /\.tmp$/i,
  /^#.*#$/,
];

/** Whether a file's base name is an editor's temp file (see EDITOR_TEMP). */
export function isEditorTemp(name: string): boolean {
  return EDITOR_TEMP.some((re) => re.test(name));
}
