// Setup for the `vm` jest project: these tests drive real kernel modules and
// only make sense inside the guest that qemu/vm.sh boots.
if (process.env.KMODLAB_VM !== '1') {
  throw new Error('test/vm runs inside the QEMU guest: use `npm test` (or `npm test -- --vm`)');
}
jest.setTimeout(120_000);
