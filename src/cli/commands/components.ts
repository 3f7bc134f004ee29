import type { Command } from 'commander';
import { builtinNames, loadComponentDefinition } from '../../components/registry';

/** `infergraph components`: the built-in components, the node types they serve and their parameters. */
export function registerComponents(program: Command): void {
  program
    .command('components')
    .description('list built-in components and their parameters (--markdown for the README tables)')
    .argument('[name]', 'only this component')
    .option('--markdown', 'print markdown tables')
    .action((name: string | undefined, o: { markdown?: boolean }) => {
      for (const n of name ? [name] : builtinNames()) {
        const d = loadComponentDefinition(n);
        if (o.markdown) {
          console.log(`#### \`${d.name}\` (${d.types.join(', ')})\n\n${d.description}\n`);
          const params = Object.entries(d.parameters);
          if (params.length) {
            console.log('| parameter | type | default | description |\n|---|---|---|---|');
            for (const [k, s] of params) {
              console.log(`| \`${k}\` | ${s.type} | ${s.required ? '**required**' : s.default === undefined ? '—' : `\`${String(s.default)}\``} | ${s.description.replace(/\|/g, '\\|')} |`);
            }
          }
          console.log('');
        } else {
          console.log(`${d.name}  [${d.types.join(', ')}]  ${d.description}`);
          for (const [k, s] of Object.entries(d.parameters)) {
            console.log(`    ${k}: ${s.type}${s.required ? ' (required)' : s.default === undefined ? '' : ` = ${String(s.default)}`}  ${s.description}`);
          }
        }
      }
    });
}
