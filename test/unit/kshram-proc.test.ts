import { parseProcTable } from '../../lib/kshram';

test('parses one "NN: size" line per slot', () => {
  expect(parseProcTable('00: 4096\n01: 2097152\n')).toEqual([
    { slot: 0, size: 4096 },
    { slot: 1, size: 2097152 },
  ]);
});

test('rejects anything else loudly', () => {
  expect(() => parseProcTable('00: 4096\nslot one\n')).toThrow(/unexpected line/);
});
