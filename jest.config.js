/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "<rootDir>/test/helpers/environment.js",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // The reliability suites run on their own: npm run test:reliability (jest.reliability.config.js).
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/reliability/"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testTimeout: 30000,
};
