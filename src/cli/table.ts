/**
 * virsh's table layout (tools/vsh-table.c): every cell is printed as " " +
 * text; all but the last cell of a row are padded to the column width plus
 * two spaces; the header is followed by a rule of (width + 3) dashes per
 * column. Widths count terminal columns, headers included.
 */

/** Control characters are shown escaped, as vshTableSafeEncode does. */
const safeText = (s: string): string =>
  s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

const COMBINING = /\p{Mn}|\p{Me}|\u200b/u;
const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;

/** Terminal columns taken by `s` (wcwidth-like: combining marks 0, East Asian wide 2). */
export function displayWidth(s: string): number {
  let width = 0;
  for (const ch of s) width += COMBINING.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
  return width;
}

function renderRow(cells: readonly string[], widths: readonly number[]): string {
  return (
    cells
      .map((cell, i) => {
        const pad = i === cells.length - 1 ? 0 : widths[i]! - displayWidth(cell) + 2;
        return ` ${cell}${' '.repeat(pad)}`;
      })
      .join('') + '\n'
  );
}

/** The table as text; `withHeader` false (virsh -q) prints the rows only. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], withHeader = true): string {
  const safeRows = rows.map((r) => r.map(safeText));
  const widths = header.map((h, i) => Math.max(displayWidth(h), ...safeRows.map((r) => displayWidth(r[i] ?? ''))));
  let out = '';
  if (withHeader) {
    out += renderRow(header, widths);
    out += '-'.repeat(widths.reduce((sum, w) => sum + w + 3, 0)) + '\n';
  }
  for (const row of safeRows) out += renderRow(row, widths);
  return out;
}
