import type { Command } from 'commander';
import { builtinNames, loadComponentDefinition } from '../../components/registry';
import { componentSection, componentsMarkdown } from '../components-markdown';

/** `infergraph components`: the built-in components, the node types they serve and their parameters. */
export function registerComponents(program: Command): void {
  program
    .command('components')
    .description('list built-in components and their parameters (--markdown: the docs/components.md page)')
    .argument('[name]', 'only this component')
    .option('--markdown', "print markdown: the whole reference page, or one component's section with a name")
    .action((name: string | undefined, o: { markdown?: boolean }) => {
      if (o.markdown) {
        process.stdout.write(name ? `${componentSection(loadComponentDefinition(name))}\n` : componentsMarkdown());
        return;
      }
      for (const n of name ? [name] : builtinNames()) {
        const d = loadComponentDefinition(n);
        console.log(`${d.name}  [${d.types.join(', ')}]  ${d.description}`);
        for (const [k, s] of Object.entries(d.parameters)) {
          const dflt = s.required ? ' (required)' : s.default === undefined ? '' : ` = ${String(s.default)}`;
          console.log(`    ${k}: ${s.type}${dflt}  ${s.description}`);
        }
      }
    });
}
