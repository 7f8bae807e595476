// fastnet on the host, where there is no module: the UAPI as the addon
// exports it, the checks bind() makes before asking the kernel, and the
// shape of errors.
import * as fs from 'node:fs';

import * as fastnet from '../../lib/fastnet';
import { native } from '../../lib/native';

const uapi = native.fastnet;

/** _IOC(dir, type, nr, size) as <asm-generic/ioctl.h> builds it. */
function ioc(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
const WRITE = 1;
const READ = 2;

describe('UAPI constants', () => {
  test('ioctl numbers encode direction, magic 0xFA, number and structure size', () => {
    expect(uapi.BIND).toBe(ioc(WRITE, 0xfa, 1, uapi.BIND_SIZE));
    expect(uapi.STATS).toBe(ioc(READ, 0xfa, 2, uapi.STATS_SIZE));
    expect(uapi.RING_INFO).toBe(ioc(READ, 0xfa, 3, uapi.RING_INFO_SIZE));
    expect(uapi.READ_INFO).toBe(ioc(READ, 0xfa, 4, uapi.SLOT_DESC_SIZE));
    // struct sock_fprog: a 16-bit length and a pointer (16 bytes on x86_64).
    expect(uapi.SET_FILTER).toBe(ioc(WRITE, 0xfa, 5, 16));
  });

  test('structures have fixed sizes and 64-bit-friendly layouts', () => {
    expect(uapi.BIND_SIZE).toBe(48);
    expect([uapi.BIND_MODE_OFFSET, uapi.BIND_FLAGS_OFFSET, uapi.BIND_SLOTS_OFFSET]).toEqual([16, 20, 24]);
    expect([uapi.BIND_SLOT_SIZE_OFFSET, uapi.BIND_QUEUE_LEN_OFFSET]).toEqual([28, 32]);
    // batch_usecs took the first reserved word: binaries that zeroed it keep working.
    expect([uapi.BIND_BATCH_USECS_OFFSET, uapi.BIND_RESERVED_OFFSET]).toEqual([36, 40]);
    expect(uapi.STATS_SIZE).toBe(8 * 8);
    expect(uapi.SLOT_DESC_SIZE).toBe(32);
    expect(uapi.RING_INFO_SIZE).toBe(32);
    // Producer and consumer each on a cache line of their own.
    expect(uapi.RING_PRODUCER_OFFSET).toBe(64);
    expect(uapi.RING_CONSUMER_OFFSET).toBe(128);
    expect(uapi.RING_HEADER_SIZE).toBe(192);
  });

  test('modes and limits are what the ring and the NIC need', () => {
    expect([uapi.MODE_NORMAL, uapi.MODE_DROP, uapi.MODE_READ, uapi.MODE_RING]).toEqual([0, 1, 2, 3]);
    expect(uapi.MODE_ZEROCOPY).toBe(4);
    expect(fastnet.MODES).toEqual({ normal: 0, drop: 1, read: 2, ring: 3, zerocopy: 4 });
    const powerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;
    for (const n of [uapi.RING_SLOTS_MIN, uapi.RING_SLOTS_MAX, uapi.RING_SLOTS_DEFAULT]) expect(powerOfTwo(n)).toBe(true);
    for (const n of [uapi.SLOT_SIZE_MIN, uapi.SLOT_SIZE_MAX, uapi.SLOT_SIZE_DEFAULT]) expect(powerOfTwo(n)).toBe(true);
    // A slot takes a whole standard frame (and an e1000 receive buffer).
    expect(uapi.SLOT_SIZE_MIN).toBeGreaterThanOrEqual(2048);
    expect(uapi.RING_SLOTS_DEFAULT * uapi.SLOT_SIZE_DEFAULT).toBeLessThanOrEqual(uapi.RING_DATA_MAX);
    expect(uapi.QUEUE_LEN_DEFAULT).toBeLessThanOrEqual(uapi.QUEUE_LEN_MAX);
    expect(uapi.IFNAMSIZ).toBe(16);
    expect(uapi.META_STRIDE).toBe(6);
  });
});

describe('bindRequest', () => {
  const fields = (buffer: Buffer) => ({
    ifname: buffer.subarray(0, 16).toString('latin1').replace(/\0+$/, ''),
    mode: buffer.readUInt32LE(16),
    flags: buffer.readUInt32LE(20),
    slots: buffer.readUInt32LE(24),
    slotSize: buffer.readUInt32LE(28),
    queueLength: buffer.readUInt32LE(32),
    batchDelayUs: buffer.readUInt32LE(36),
    reserved: [buffer.readUInt32LE(40), buffer.readUInt32LE(44)],
  });

  test('packs struct fastnet_bind; unset sizes are 0, the kernel defaults', () => {
    expect(fields(fastnet.bindRequest('veth0', 'ring', { slots: 4096, slotSize: 4096, passThrough: true }))).toEqual({
      ifname: 'veth0',
      mode: 3,
      flags: uapi.BIND_PASS,
      slots: 4096,
      slotSize: 4096,
      queueLength: 0,
      batchDelayUs: 0,
      reserved: [0, 0],
    });
    // Mode read always asks for each frame's descriptor before it (one read(2) a frame).
    expect(fields(fastnet.bindRequest('eth0', 'read', { queueLength: 10 }))).toMatchObject({
      mode: 2,
      flags: uapi.BIND_HEADER,
      queueLength: 10,
    });
    expect(fields(fastnet.bindRequest('eth0', 'read', { passThrough: true })).flags).toBe(uapi.BIND_PASS | uapi.BIND_HEADER);
    expect(uapi.BIND_HEADER).toBe(4);
    expect(fields(fastnet.bindRequest('eth0', 1))).toMatchObject({ mode: 1, flags: 0, slots: 0, slotSize: 0 });
    expect(fields(fastnet.bindRequest('a23456789012345', 'normal')).ifname).toBe('a23456789012345');
  });

  const typeError = (code: string) => expect.objectContaining({ name: 'TypeError', code });
  const rangeError = expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });

  test('device names: a string of 1 to 15 bytes', () => {
    expect(() => fastnet.bindRequest(7 as unknown as string, 'drop')).toThrow(typeError('ERR_INVALID_ARG_TYPE'));
    expect(() => fastnet.bindRequest('', 'drop')).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    expect(() => fastnet.bindRequest('a234567890123456', 'drop')).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    expect(() => fastnet.bindRequest('bad\0name', 'drop')).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    // Bytes, not characters.
    expect(() => fastnet.bindRequest('ééééééééé', 'drop')).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
  });

  test('modes: a known name or number', () => {
    expect(() => fastnet.bindRequest('eth0', 'sniff' as fastnet.ModeName)).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    expect(() => fastnet.bindRequest('eth0', 9)).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    expect(fastnet.bindRequest('eth0', uapi.MODE_ZEROCOPY).readUInt32LE(uapi.BIND_MODE_OFFSET)).toBe(4);
    expect(fastnet.bindRequest('eth0', 'zerocopy').readUInt32LE(uapi.BIND_MODE_OFFSET)).toBe(4);
  });

  test('options: known, of the right type, for the mode, in range', () => {
    expect(() => fastnet.bindRequest('eth0', 'read', { queueLen: 5 } as fastnet.BindOptions)).toThrow(
      typeError('ERR_INVALID_ARG_VALUE'),
    );
    expect(() => fastnet.bindRequest('eth0', 'read', { slots: 64 })).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    expect(() => fastnet.bindRequest('eth0', 'ring', { queueLength: 64 })).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    expect(() => fastnet.bindRequest('eth0', 'drop', { passThrough: true })).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    expect(() => fastnet.bindRequest('eth0', 'read', { batch: true })).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    expect(() => fastnet.bindRequest('eth0', 'ring', { batch: 1 as unknown as boolean })).toThrow(
      typeError('ERR_INVALID_ARG_TYPE'),
    );
    expect(fields(fastnet.bindRequest('eth0', 'ring', { batch: true })).flags).toBe(uapi.BIND_BATCH);
    // The batch delay: with batch only, 1 us to a minute; 0 (unset) is the kernel's default, 1 ms.
    expect(fields(fastnet.bindRequest('eth0', 'ring', { batch: true, batchDelayUs: 100_000 }))).toMatchObject({
      flags: uapi.BIND_BATCH,
      batchDelayUs: 100_000,
    });
    expect(fastnet.LIMITS).toMatchObject({ batchDelayUsDefault: 1000, batchDelayUsMax: 60_000_000 });
    expect(() => fastnet.bindRequest('eth0', 'ring', { batchDelayUs: 1000 })).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    expect(() => fastnet.bindRequest('eth0', 'read', { batchDelayUs: 1000 })).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    for (const bad of [0, 60_000_001, 1.5]) {
      expect(() => fastnet.bindRequest('eth0', 'zerocopy', { batch: true, batchDelayUs: bad })).toThrow(rangeError);
    }
    expect(() => fastnet.bindRequest('eth0', 'ring', { passThrough: 1 as unknown as boolean })).toThrow(
      typeError('ERR_INVALID_ARG_TYPE'),
    );
    expect(() => fastnet.bindRequest('eth0', 'ring', { slots: '64' as unknown as number })).toThrow(
      typeError('ERR_INVALID_ARG_TYPE'),
    );
    expect(() => fastnet.bindRequest('eth0', 'ring', { slots: 1000 })).toThrow(rangeError);
    expect(() => fastnet.bindRequest('eth0', 'ring', { slots: 1 })).toThrow(rangeError);
    expect(() => fastnet.bindRequest('eth0', 'ring', { slots: 1 << 17 })).toThrow(rangeError);
    expect(() => fastnet.bindRequest('eth0', 'ring', { slotSize: 1024 })).toThrow(rangeError);
    expect(() => fastnet.bindRequest('eth0', 'ring', { slotSize: 2048.5 })).toThrow(rangeError);
    expect(() => fastnet.bindRequest('eth0', 'ring', { slots: 65536, slotSize: 4096 })).toThrow(rangeError);
    expect(() => fastnet.bindRequest('eth0', 'read', { queueLength: 0 })).toThrow(rangeError);
    expect(() => fastnet.bindRequest('eth0', 'read', { queueLength: uapi.QUEUE_LEN_MAX + 1 })).toThrow(rangeError);
    // Zero-copy takes the ring's geometry and its batched wakeups, and passes through what its filter rejects.
    expect(fields(fastnet.bindRequest('eth0', 'zerocopy', { passThrough: true })).flags).toBe(uapi.BIND_PASS);
    expect(fields(fastnet.bindRequest('eth0', 'zerocopy', { batch: true })).flags).toBe(uapi.BIND_BATCH);
    expect(() => fastnet.bindRequest('eth0', 'read', { batch: true })).toThrow(typeError('ERR_INVALID_ARG_VALUE'));
    expect(() => fastnet.bindRequest('eth0', 'zerocopy', { slots: 65536, slotSize: 4096 })).toThrow(rangeError);
    expect(fastnet.bindRequest('eth0', 'zerocopy', { slots: 256, slotSize: 4096 }).readUInt32LE(uapi.BIND_SLOTS_OFFSET)).toBe(256);
    // Explicitly off is fine anywhere.
    expect(() => fastnet.bindRequest('eth0', 'drop', { passThrough: false })).not.toThrow();
    // In Node's words, naming the argument.
    expect(() => fastnet.bindRequest('eth0', 'ring', { slots: 1000 })).toThrow(
      'The value of "slots" is out of range. It must be a power of two >= 2 && <= 65536. Received 1000',
    );
    expect(() => fastnet.bindRequest('eth0', 'ring', { slots: 65536, slotSize: 4096 })).toThrow(
      `The value of "slots * slotSize" is out of range. It must be <= ${uapi.RING_DATA_MAX}. Received 268435456`,
    );
    expect(() => fastnet.bindRequest('eth0', 'read', { slots: 64 })).toThrow(
      "The argument 'slots' applies to mode ring or zerocopy, not read. Received 64",
    );
  });
});

describe('stats and batches', () => {
  test('decodeStats reads struct fastnet_stats', () => {
    const buffer = Buffer.alloc(uapi.STATS_SIZE);
    [10, 640, 8, 512, 2, 1, 3, 7].forEach((value, i) => buffer.writeBigUInt64LE(BigInt(value), 8 * i));
    expect(fastnet.decodeStats(buffer)).toEqual({
      received: 10,
      receivedBytes: 640,
      delivered: 8,
      deliveredBytes: 512,
      dropped: 2,
      truncated: 1,
      nicMissed: 3,
      filtered: 7,
    });
  });

  test('a batch hands out frames as views, with their metadata and timestamp', () => {
    const ipv4 = Buffer.alloc(60);
    ipv4.writeUInt16BE(0x0800, 12);
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    const short = Buffer.from([1, 2, 3]);
    const data = Buffer.concat([ipv4, arp, short]);
    const ts = 1_700_000_000_123_456_789n;
    const lo = Number(ts & 0xffffffffn);
    const hi = Number(ts >> 32n);
    const meta = new Uint32Array([0, 60, 60, 0, lo, hi, 60, 42, 1500, uapi.PKT_TRUNC, 0, 0, 102, 3, 3, 0, 0, 0]);
    const batch = new fastnet.PacketBatch({ count: 3, bytes: data.length, data, meta });
    const [first, second, third] = [...batch];
    expect(first).toEqual({ data: ipv4, originalLength: 60, truncated: false, timestampNs: ts });
    expect(second).toMatchObject({ data: arp, originalLength: 1500, truncated: true });
    expect(third.data).toEqual(short);
    expect(first.data.buffer).toBe(data.buffer);
    expect(batch.countIPv4()).toBe(1);
    expect(fastnet.countIPv4(batch)).toBe(1);
    expect(() => batch.packet(3)).toThrow(rangeError());
  });

  test('countIPv4 refuses metadata that points outside the data', () => {
    const meta = new Uint32Array([0, 100, 100, 0, 0, 0]);
    expect(() => uapi.countIPv4(Buffer.alloc(50), meta, 1)).toThrow(rangeError());
    expect(() => uapi.countIPv4(Buffer.alloc(50), meta, 2)).toThrow(rangeError());
    expect(() => uapi.countIPv4(Buffer.alloc(50), new Float64Array(6) as unknown as Uint32Array, 1)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

function rangeError() {
  return expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
}

describe('sessions on a machine without the module', () => {
  // Skipped, and reported as skipped, on a host where the module is loaded.
  const withoutModule = fs.existsSync(fastnet.DEVICE_PATH) ? test.skip : test;
  withoutModule('open() fails like fs does: ENOENT with the path', () => {
    expect(() => fastnet.open()).toThrow(
      expect.objectContaining({ code: 'ENOENT', errno: -2, syscall: 'open', path: fastnet.DEVICE_PATH }),
    );
  });

  test('native read loops check their arguments before any system call', () => {
    expect(() => uapi.readBatch(0, 0, 2048, false)).toThrow(rangeError());
    expect(() => uapi.readBatch(0, 10, 0, false)).toThrow(rangeError());
    expect(() => uapi.readCount(0, 70000, 2048, false, true)).toThrow(rangeError());
    expect(() => uapi.readBatch(-1, 1, 2048, false, '/dev/fastnet')).toThrow(
      expect.objectContaining({ code: 'EBADF', syscall: 'read', path: '/dev/fastnet' }),
    );
  });
});

describe('filters, before the kernel', () => {
  test('compileFilter: libpcap\'s program for Ethernet, returning the snap length asked for (whole frames by default)', () => {
    const program = fastnet.compileFilter('udp port 53');
    expect(program[0]).toEqual({ code: 0x28, jt: 0, jf: 0, k: 12 }); // ldh [12]: the EtherType
    expect(program.at(-2)).toEqual({ code: 0x06, jt: 0, jf: 0, k: fastnet.DEFAULT_FILTER_SNAP_LENGTH });
    expect(program.at(-1)).toEqual({ code: 0x06, jt: 0, jf: 0, k: 0 });
    expect(fastnet.compileFilter('', 96)).toEqual([{ code: 0x06, jt: 0, jf: 0, k: 96 }]);
    expect(() => fastnet.compileFilter('udp port banana')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("unknown port 'banana'") }),
    );
    expect(() => fastnet.compileFilter(17 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => fastnet.compileFilter('ip', 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  test('a program packs into struct sock_filter records and back; a negative k is its 32-bit pattern', () => {
    const program = [
      { code: 0x30, jt: 0, jf: 0, k: -0x1000 + 48 }, // ldb SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT
      { code: 0x15, jt: 1, jf: 255, k: 0xffffffff },
      { code: 0x06, jt: 0, jf: 0, k: 65535 },
    ];
    const bytes = fastnet.encodeProgram(program);
    expect(bytes.toString('hex')).toBe('3000000030f0ffff' + '1500' + '01ff' + 'ffffffff' + '06000000ffff0000');
    expect(fastnet.decodeProgram(bytes)).toEqual([{ ...program[0], k: 0xfffff030 }, program[1], program[2]]);
    expect(fastnet.filterBytes('filter', 'udp')).toEqual(fastnet.encodeProgram(fastnet.compileFilter('udp')));
  });

  test.each([
    ['not an array', 'filter' as never, 'ERR_INVALID_ARG_TYPE', 'The "program" argument must be an instance of Array. Received type string (\'filter\')'],
    ['empty', [], 'ERR_OUT_OF_RANGE', 'The value of "program.length" is out of range'],
    ['65536 instructions', Array.from({ length: 65536 }, () => ({ code: 6, jt: 0, jf: 0, k: 0 })), 'ERR_OUT_OF_RANGE', 'Received 65536'],
    ['an instruction that is null', [null] as never, 'ERR_INVALID_ARG_TYPE', 'The "program[0]" argument must be of type object'],
    ['a code over 65535', [{ code: 65536, jt: 0, jf: 0, k: 0 }], 'ERR_OUT_OF_RANGE', 'The value of "program[0].code"'],
    ['a negative jt', [{ code: 6, jt: -1, jf: 0, k: 0 }], 'ERR_OUT_OF_RANGE', 'The value of "program[0].jt"'],
    ['a string jf', [{ code: 6, jt: 0, jf: '0', k: 0 }] as never, 'ERR_INVALID_ARG_TYPE', 'The "program[0].jf" property must be of type number'],
    ['a fractional k', [{ code: 6, jt: 0, jf: 0, k: 0.5 }], 'ERR_OUT_OF_RANGE', 'The value of "program[0].k"'],
  ])('encodeProgram refuses %s', (_name, program, code, message) => {
    expect(() => fastnet.encodeProgram(program)).toThrow(expect.objectContaining({ code, message: expect.stringContaining(message) }));
  });

  test('bind() takes a filter in every mode but normal, where no handler runs', () => {
    expect(() => fastnet.bindRequest('eth0', 'zerocopy', { filter: 'udp' })).not.toThrow();
    expect(() => fastnet.bindRequest('eth0', 'drop', { filter: [{ code: 6, jt: 0, jf: 0, k: 0 }] })).not.toThrow();
    expect(() => fastnet.bindRequest('eth0', 'normal', { filter: 'udp' })).toThrow(
      "The argument 'filter' applies to mode drop or read or ring or zerocopy, not normal. Received 'udp'",
    );
  });

  test("checkProgram: the module's own check, built into the addon, with the kernel's rules or zero-copy's", () => {
    const vlanTag = fastnet.encodeProgram([{ code: 0x28, jt: 0, jf: 0, k: -0x1000 + 44 }, { code: 0x16, jt: 0, jf: 0, k: 0 }]);
    expect(uapi.checkProgram(vlanTag, false)).toBeNull();
    expect(uapi.checkProgram(vlanTag, true)).toEqual({ reason: 'ancillary load (SKF_AD_OFF) needs an skb', at: 0 });
    const unknownAncillary = fastnet.encodeProgram([{ code: 0x30, jt: 0, jf: 0, k: -1 }, { code: 6, jt: 0, jf: 0, k: 0 }]);
    expect(uapi.checkProgram(unknownAncillary, false)).toEqual({ reason: 'unknown ancillary load (SKF_AD_OFF + n)', at: 0 });
    const badJump = fastnet.encodeProgram([{ code: 0x15, jt: 3, jf: 0, k: 0 }, { code: 6, jt: 0, jf: 0, k: 0 }]);
    expect(uapi.checkProgram(badJump, false)).toEqual({ reason: 'conditional jump past the end', at: 0 });
    expect(uapi.checkProgram(fastnet.filterBytes('filter', 'vlan 100 and udp'), true)).toBeNull();
    expect(fastnet.MAX_FILTER_INSTRUCTIONS).toBe(4096);
  });
});
