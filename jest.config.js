// Two projects: `unit` runs on the host; `vm` runs inside the QEMU guest
// (qemu/test.sh boots it) against the real kernel modules.
const transform = { '^.+\\.ts$': ['@swc/jest'] };
// A project's option (not the top level's): in out/, which the guest shares with the host, so
// each boot reuses what the last one compiled instead of compiling every file again under TCG.
const cacheDirectory = '<rootDir>/out/jest-cache';

module.exports = {
  projects: [
    {
      displayName: 'unit',
      cacheDirectory,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      testEnvironment: 'node',
      transform,
    },
    {
      displayName: 'vm',
      cacheDirectory,
      testMatch: ['<rootDir>/test/vm/**/*.test.ts'],
      testEnvironment: 'node',
      transform,
      setupFiles: ['<rootDir>/test/vm/in-guest.ts'],
    },
  ],
};
