// The tables etcdctl prints with olekukonko/tablewriter (header centred and upper-cased,
// cells right-aligned, one space of padding, `+`/`-`/`|` borders), byte for byte.

/** tablewriter's Title(): upper case, with `_` and `.` read as spaces. */
function title(name: string): string {
  return name.replace(/[_.]/g, ' ').toUpperCase().trim();
}

function width(s: string): number {
  return [...s].length;
}

/** Renders a table with tablewriter's default style and right-aligned cells. */
export function renderTable(header: string[], rows: string[][]): string {
  const titles = header.map(title);
  const widths = titles.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const border = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+\n`;
  const line = (cells: string[], align: (cell: string, w: number) => string) =>
    `|${cells.map((c, i) => ` ${align(c, widths[i]!)} `).join('|')}|\n`;
  const center = (cell: string, w: number) => {
    const gap = w - width(cell);
    const left = Math.floor(gap / 2);
    return ' '.repeat(left) + cell + ' '.repeat(gap - left);
  };
  const right = (cell: string, w: number) => ' '.repeat(w - width(cell)) + cell;
  let out = border + line(titles, center) + border;
  for (const row of rows) out += line(row, right);
  return out + border;
}
