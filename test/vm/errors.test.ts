// What a user meets when a call is wrong: the library's state checks
// (ERR_INVALID_STATE before any system call, naming the state and what to
// do), argument errors in Node's shape naming the argument, and kernel
// refusals that keep Node's shape (code, errno, syscall, path) and add the
// reason the library can know.
import * as fastnet from '../../lib/fastnet';
import { reloadModule } from '../../lib/kmod';
import { KshramSlot, MAX_SLOT_SIZE, openSlot } from '../../lib/kshram';
import * as memoryInfo from '../../lib/memory-info';
import { VethPair, pktgenRun, pktgenSetup } from '../../lib/traffic';

const DEV = 'fnerr0';
let veth: VethPair;

beforeAll(() => {
  reloadModule('kshram');
  veth = new VethPair(DEV, 'fnerr1', { address: '10.78.0.2/24' });
});
afterAll(() => veth?.close());

const state = (message: RegExp) => expect.objectContaining({ code: 'ERR_INVALID_STATE', message: expect.stringMatching(message) });

describe('fastnet: calls in the wrong state', () => {
  test('an unbound session: "call bind() first", for every call that needs a binding', async () => {
    using session = fastnet.open();
    for (const [call, fn] of [
      ['stats()', () => session.stats()],
      ['read()', () => session.read()],
      ['readBatch()', () => session.readBatch()],
      ['readCount()', () => session.readCount()],
      ['wait()', () => session.wait(0)],
      ['ring', () => session.ring],
    ] as const) {
      expect(fn).toThrow(state(new RegExp(`^Invalid state: ${call.replace(/[()]/g, '\\$&')} needs a bound session: call bind\\(\\) first$`)));
    }
    await expect(session.waitAsync(0)).rejects.toEqual(state(/^Invalid state: waitAsync\(\) needs a bound session: call bind\(\) first$/));
    const iterate = async () => {
      for await (const batch of session) void batch;
    };
    await expect(iterate()).rejects.toEqual(state(/^Invalid state: batches\(\) \(for await\) needs a bound session: call bind\(\) first$/));
    await expect(session.loop(() => undefined)).rejects.toEqual(state(/call bind\(\) first/));
  });

  test('the wrong mode for the call names both modes', async () => {
    using ringSession = fastnet.open().bind(DEV, 'ring', { slots: 64 });
    expect(() => ringSession.read()).toThrow(state(/^Invalid state: read\(\) works in mode read; this session is bound in mode ring$/));
    expect(() => ringSession.readBatch()).toThrow(state(/^Invalid state: readBatch\(\) works in mode read; this session is bound in mode ring$/));
    expect(ringSession.ring.slots).toBe(64);
    ringSession.close();

    using dropSession = fastnet.open().bind(DEV, 'drop');
    expect(() => dropSession.ring).toThrow(state(/^Invalid state: ring works in mode ring or zerocopy; this session is bound in mode drop$/));
    await expect(dropSession.loop(() => undefined)).rejects.toEqual(
      state(/^Invalid state: batches\(\) \(for await\) works in mode read, ring or zerocopy; this session is bound in mode drop$/),
    );
    expect(dropSession.stats().received).toBe(0);
  });

  test('a closed session says so, for every call', () => {
    const session = fastnet.open().bind(DEV, 'read');
    session.close();
    const closed = state(/^Invalid state: The fastnet session is closed: open a new one with fastnet\.open\(\)$/);
    for (const fn of [() => session.stats(), () => session.read(), () => session.bind(DEV, 'drop'), () => session.ring, () => session.fd]) {
      expect(fn).toThrow(closed);
    }
    session.close(); // twice is fine
  });
});

describe('fastnet: kernel refusals keep their shape and say why', () => {
  test('a device that is not Ethernet', () => {
    using session = fastnet.open();
    expect(() => session.bind('lo', 'drop')).toThrow(
      expect.objectContaining({
        code: 'ENOTSUP',
        errno: -95,
        syscall: 'ioctl',
        path: '/dev/fastnet',
        reason: 'binding lo in mode drop: lo is not an Ethernet device (ARPHRD type 772)',
      }),
    );
  });

  test('no such device, a device already taken, a session bound twice', () => {
    using session = fastnet.open();
    expect(() => session.bind('nosuchdev0', 'drop')).toThrow(
      expect.objectContaining({ code: 'ENODEV', errno: -19, message: expect.stringMatching(/no device named nosuchdev0 in this network namespace\)$/) }),
    );
    session.bind(DEV, 'drop');
    using other = fastnet.open();
    expect(() => other.bind(DEV, 'read')).toThrow(
      expect.objectContaining({ code: 'EBUSY', message: expect.stringContaining(`${DEV} already has a fastnet session or another rx_handler`) }),
    );
    expect(() => session.bind(DEV, 'ring')).toThrow(
      expect.objectContaining({ code: 'EBUSY', message: expect.stringContaining(`this session is already bound to ${DEV} in mode drop`) }),
    );
  });
});

describe('fastnet: an AbortSignal ends the iteration quietly, as documented', () => {
  test('a signal aborted before the loop: no batch, loop() resolves with 0 at once', async () => {
    using session = fastnet.open().bind(DEV, 'read');
    pktgenSetup({ device: DEV, count: 5, dstMac: veth.mac, src: '10.78.0.1', dst: '10.78.0.2' });
    pktgenRun();
    const calls: number[] = [];
    expect(await session.loop((batch) => calls.push(batch.count), { signal: AbortSignal.abort(new Error('stop')) })).toBe(0);
    expect(calls).toEqual([]);
    // The frames are still queued for the next reader.
    expect(session.readBatch().count).toBe(5);
  });

  test('a signal that aborts while waiting ends the loop with the frames seen so far', async () => {
    using session = fastnet.open().bind(DEV, 'ring');
    const looping = session.loop(() => undefined, { signal: AbortSignal.timeout(300) });
    expect(await looping).toBe(0);
  });
});

describe('kshram', () => {
  test('openSlot(8) and openSlot("1") throw Node argument errors naming "index"', () => {
    expect(() => openSlot(8)).toThrow(
      expect.objectContaining({
        name: 'RangeError',
        code: 'ERR_OUT_OF_RANGE',
        message: 'The value of "index" is out of range. It must be an integer >= 0 && <= 7. Received 8',
      }),
    );
    expect(() => openSlot('1' as unknown as number)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"index"') }),
    );
  });

  test('resize() names "bytes" for a non-number, and the allowed range when the kernel refuses the size', () => {
    using slot = openSlot(2);
    expect(() => slot.resize('4096' as unknown as number)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"bytes"') }),
    );
    expect(() => slot.resize(1.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"bytes"') }));
    expect(() => slot.resize(MAX_SLOT_SIZE + 1)).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        errno: -22,
        syscall: 'ioctl',
        path: '/dev/kshram2',
        reason: `a slot is 1 to ${MAX_SLOT_SIZE} bytes; asked for ${MAX_SLOT_SIZE + 1}`,
      }),
    );
  });

  test('resize while mapped says the slot is mapped', () => {
    using slot = openSlot(4);
    using mapping = slot.map();
    expect(mapping.length).toBe(4096);
    expect(() => slot.resize(8192)).toThrow(
      expect.objectContaining({
        code: 'EBUSY',
        errno: -16,
        syscall: 'ioctl',
        path: '/dev/kshram4',
        message: expect.stringMatching(/^EBUSY: .*\(slot 4 is mapped, by this or another process: close every mapping of it first\)$/),
      }),
    );
  });

  test('a closed slot: ERR_INVALID_STATE naming how to reopen it', () => {
    const slot = new KshramSlot(6);
    slot.close();
    for (const fn of [() => slot.size, () => slot.read(), () => slot.write('x'), () => slot.resize(1), () => slot.map()]) {
      expect(fn).toThrow(state(/^Invalid state: kshram slot 6 is closed: open it again with kshram\.openSlot\(6\)$/));
    }
  });
});

describe('memory_info: refusals state the rule', () => {
  test.each([
    ['FILTER|sixteen-bytes-xx', 16],
    ['DEL|', 0],
  ])('%s: EINVAL with the 1-to-15-byte name rule', (cmd, bytes) => {
    expect(() => memoryInfo.command(cmd)).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        errno: -22,
        syscall: 'write',
        path: '/proc/memory_info',
        kernelMessage: 'Invalid argument',
        reason: `a process name is 1 to 15 bytes with no NUL; got ${bytes} bytes`,
      }),
    );
  });

  test('an unknown command lists the commands; a name not in the table says so', () => {
    expect(() => memoryInfo.command('LIST')).toThrow(
      expect.objectContaining({ code: 'EINVAL', reason: "the commands are 'RESET', 'ALL', 'FILTER|<name>' and 'DEL|<name>'" }),
    );
    memoryInfo.reset();
    expect(() => memoryInfo.filter('no-such-proc')).toThrow(
      expect.objectContaining({ code: 'ESRCH', errno: -3, reason: 'no process named "no-such-proc" in the table (taken at load or RESET)' }),
    );
  });
});
