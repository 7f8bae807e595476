// Two projects: `unit` runs on the host; `vm` runs inside the QEMU guest
// (qemu/test.sh boots it) against the real kernel modules.
const transform = { '^.+\\.ts$': ['@swc/jest'] };

module.exports = {
  // In out/, which the guest shares with the host: each boot reuses what the last one compiled.
  cacheDirectory: '<rootDir>/out/jest-cache',
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      testEnvironment: 'node',
      transform,
    },
    {
      displayName: 'vm',
      testMatch: ['<rootDir>/test/vm/**/*.test.ts'],
      testEnvironment: 'node',
      transform,
      setupFiles: ['<rootDir>/test/vm/in-guest.ts'],
    },
  ],
};
