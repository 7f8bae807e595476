// memory_info at work (npm start runs it in the VM): the examples
// with pagehold processes of known contents, the table, counts that follow
// the processes, and the errors.
import { all, command, filter, type MemoryInfoError, type MemoryInfoRecord, reset } from '../memory-info';
import { PageHolder } from '../pagehold';
import { type CommandSpec, runCommand } from '../cli/args';

function show(label: string, r: MemoryInfoRecord): void {
  console.log(
    `  ${label.padEnd(44)} valid ${String(r.valid).padStart(5)}  invalid ${String(r.invalid).padStart(5)}  ` +
      `may_be_shared ${String(r.mayBeShared).padStart(3)}  nb_group ${r.nbGroup}  pids ${r.pids.join(', ')}`,
  );
}

async function main(): Promise<void> {
  const holders: PageHolder[] = [];
  const start = async (...args: Parameters<typeof PageHolder.start>) => {
    const holder = await PageHolder.start(...args);
    holders.push(holder);
    return holder;
  };
  try {
    console.log('Identical pages (pagehold writes pages of known contents, then makes them read-only):');
    await start({ name: 'demo-one', labels: { A: 2, B: 2, C: 1 }, unique: 3 });
    await start({ name: 'demo-bare' });
    await start({ name: 'demo-bare' });
    await start({ name: 'demo-pair', labels: { A: 2, B: 1 }, unique: 2 });
    await start({ name: 'demo-pair', labels: { A: 1, B: 1 } });
    const lazy = await start({ name: 'demo-lazy', lazy: 500 });
    await lazy.touch(1);
    reset();
    show('one process, {A, A, B, B, C} + 3 unique', filter('demo-one'));
    const bare = filter('demo-bare');
    const pair = filter('demo-pair');
    show('two bare pagehold processes', bare);
    show('two processes, A three times and B twice', pair);
    // Code shared through the page cache is one physical page: never a twin. A page
    // each copy writes alike at startup would be one, so the bare pair is the baseline.
    console.log(
      `  the pair's patterns add ${pair.mayBeShared - bare.mayBeShared} pages in ${pair.nbGroup - bare.nbGroup} groups ` +
        `to what two bare copies of pagehold hold alike (${bare.mayBeShared} pages in ${bare.nbGroup} groups)`,
    );

    console.log('\nValid pages follow the process (RESET snapshots them again):');
    const before = filter('demo-lazy');
    show('before touching', before);
    await lazy.touch(200);
    reset();
    const after = filter('demo-lazy');
    show('after touching 200 more pages', after);
    console.log(`  valid +${after.valid - before.valid}, invalid ${after.invalid - before.invalid}, total unchanged: ${after.total === before.total}`);

    console.log('\nALL: the five names with the most valid pages:');
    for (const r of all().sort((a, b) => b.valid - a.valid).slice(0, 5)) show(r.name, r);

    console.log('\nDEL, then FILTER of the deleted name, then RESET:');
    console.log(`  DEL|demo-one -> ${command('DEL|demo-one').trimEnd()}`);
    try {
      filter('demo-one');
      throw new Error('FILTER after DEL should have failed');
    } catch (err) {
      const e = err as MemoryInfoError;
      if (e.code !== 'ESRCH') throw err;
      console.log(`  FILTER|demo-one -> ${e.code} (errno ${e.errno}), the file shows [ERROR]: ${e.kernelMessage}`);
    }
    console.log(`  RESET -> ${command('RESET').trimEnd()}`);
    show('demo-one is back', filter('demo-one'));

    console.log('\nErrors for bad input:');
    for (const bad of ['HELLO', 'FILTER|', `FILTER|${'x'.repeat(16)}`, 'DEL|nobody-here']) {
      try {
        command(bad);
      } catch (err) {
        const e = err as MemoryInfoError;
        console.log(`  ${JSON.stringify(bad).padEnd(28)} -> ${e.code}: [ERROR]: ${e.kernelMessage}`);
      }
    }
  } finally {
    await Promise.all(holders.map((h) => h.stop()));
  }
}

const spec: CommandSpec = {
  name: 'node dist/examples/memory-info-demo.js',
  synopsis: '',
  description: 'memory_info at work: pagehold processes of known contents, the table, counts that follow the processes, the errors.',
};

runCommand(spec, main);
