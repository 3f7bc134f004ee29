import { ConfigError } from '../errors';

/**
 * Class labels files, `index<TAB>wnid<TAB>name` per line (models/labels, ../shared/imagenet/labels.tsv): read by the
 * top1-output component and by `infergraph eval`, which share the format and its error messages.
 */

export interface Label {
  wnid: string;
  name: string;
}

/**
 * Parses `index<TAB>wnid<TAB>name` lines; indexes must run 0, 1, 2, ... in order. Empty lines and lines starting with
 * '#' are skipped. Errors name `who` and file:line.
 */
export function parseLabels(text: string, file: string, who = 'top1-output'): Label[] {
  const labels: Label[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    const fields = line.split('\t');
    if (fields.length !== 3) {
      throw new ConfigError([
        `${who}: ${where}: expected index<TAB>wnid<TAB>name (3 tab-separated fields), ` +
          `got ${fields.length}: ${JSON.stringify(line)}`,
      ]);
    }
    const [index, wnid, name] = fields.map((f) => f.trim()) as [string, string, string];
    if (!/^\d+$/.test(index) || Number(index) !== labels.length) {
      throw new ConfigError([`${who}: ${where}: expected index ${labels.length}, got ${JSON.stringify(index)}`]);
    }
    if (wnid === '' || name === '') throw new ConfigError([`${who}: ${where}: empty ${wnid === '' ? 'wnid' : 'name'}`]);
    labels.push({ wnid, name });
  });
  if (labels.length === 0) throw new ConfigError([`${who}: ${file}: no labels`]);
  return labels;
}
