/** @type {import('jest').Config} */
// The reliability suites (load, faults, fuzz): `npm run test:reliability`, never part of `npm test`.
module.exports = {
  testEnvironment: "<rootDir>/test/helpers/environment.js",
  roots: ["<rootDir>/test/reliability"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testTimeout: 300000,
};
