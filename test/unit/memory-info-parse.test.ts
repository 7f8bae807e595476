// The parser of /proc/memory_info's output, on the host: the exact line
// format, names that look like fields, escapes, and anything else refused.
import { parseLine, parseResult, parseTable } from '../../lib/memory-info';

const line = (name: string, pids: string) =>
  `${name}, total: 282, valid: 87, invalid: 195, may_be_shared: 4, nb_group: 2, pid(${pids.split('; ').length}): ${pids}`;

describe('parseLine', () => {
  test('reads every field of the exact format', () => {
    expect(parseLine(line('bash', '140; 152; 9001'))).toEqual({
      name: 'bash',
      total: 282,
      valid: 87,
      invalid: 195,
      mayBeShared: 4,
      nbGroup: 2,
      pids: [140, 152, 9001],
    });
  });

  test('one pid has no separator', () => {
    expect(parseLine('init, total: 565, valid: 451, invalid: 114, may_be_shared: 0, nb_group: 0, pid(1): 1')).toMatchObject(
      { name: 'init', total: 565, pids: [1] },
    );
  });

  test('a name may hold commas, spaces, bars and even the field names', () => {
    expect(parseLine(line('a b|c, total: 1', '7')).name).toBe('a b|c, total: 1');
  });

  test('octal escapes of newline and backslash are decoded', () => {
    expect(parseLine(line('a\\012b\\134c', '7')).name).toBe('a\nb\\c');
  });

  test.each([
    ['no fields', 'bash'],
    ['a missing field', 'bash, total: 1, valid: 1, may_be_shared: 0, nb_group: 0, pid(1): 1'],
    ['a negative count', 'bash, total: -1, valid: 1, invalid: 0, may_be_shared: 0, nb_group: 0, pid(1): 1'],
    ['no pids', 'bash, total: 1, valid: 1, invalid: 0, may_be_shared: 0, nb_group: 0, pid(0): '],
    ['a trailing separator', 'bash, total: 1, valid: 1, invalid: 0, may_be_shared: 0, nb_group: 0, pid(1): 1;'],
    ['extra text', 'bash, total: 1, valid: 1, invalid: 0, may_be_shared: 0, nb_group: 0, pid(1): 1 x'],
  ])('refuses %s', (_, text) => {
    expect(() => parseLine(text)).toThrow(/unexpected line/);
  });

  test('refuses a pid count that does not match the list', () => {
    expect(() =>
      parseLine('bash, total: 1, valid: 1, invalid: 0, may_be_shared: 0, nb_group: 0, pid(3): 1; 2'),
    ).toThrow(/pid\(3\) lists 2 pids/);
  });
});

describe('parseTable', () => {
  test('one record a line, in order', () => {
    const text = `${line('init', '1')}\n${line('bash', '140; 152')}\n`;
    expect(parseTable(text).map((r) => [r.name, r.pids])).toEqual([
      ['init', [1]],
      ['bash', [140, 152]],
    ]);
  });

  test('a bad line anywhere fails the whole table', () => {
    expect(() => parseTable(`${line('init', '1')}\n[SUCCESS]\n`)).toThrow(/unexpected line/);
  });
});

describe('parseResult', () => {
  test('[SUCCESS], with or without the final newline (trimmed text parses too)', () => {
    expect(parseResult('[SUCCESS]\n')).toEqual({ kind: 'success' });
    expect(parseResult('[SUCCESS]')).toEqual({ kind: 'success' });
  });

  test('[ERROR]: message, with or without the final newline', () => {
    expect(parseResult('[ERROR]: No such process\n')).toEqual({ kind: 'error', message: 'No such process' });
    expect(parseResult('[ERROR]: No such process')).toEqual({ kind: 'error', message: 'No such process' });
  });

  test('table lines', () => {
    expect(parseResult(`${line('bash', '140')}\n`)).toMatchObject({ kind: 'records', records: [{ name: 'bash' }] });
  });

  test('anything else is refused', () => {
    expect(() => parseResult('[SUCCESS]\n\n')).toThrow(/unexpected line/);
    expect(() => parseResult('SUCCESS\n')).toThrow(/unexpected line/);
  });
});
