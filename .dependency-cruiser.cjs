/**
 * The layering rule of fanout (README "Layout", ../shared/DESIGN.md): `npm test` runs
 * `npm run depcheck`, and test/layout.test.ts proves each rule can fail.
 *
 *   lib/core      pure: imports nothing of ours, no fs, no threads, no AWS SDK
 *   lib/job       the job's vocabulary (options, keys, documents, ports): core only
 *   lib/local     the embedded runtime: core and job, never cloud
 *   lib/cloud     the cloud runtime: core and job, never local
 *   lib/report    above both runtimes; lib/cli at the top: nothing imports it
 *   functions/    Lambda handlers over lib/cloud; cdk/ wires the stack
 */
const own = '^(lib|functions|cdk|bin)/';
module.exports = {
  forbidden: [
    { name: 'no-cycle', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'core-is-pure',
      comment: 'lib/core imports nothing of ours outside lib/core, and no fs, threads or AWS SDK',
      severity: 'error',
      from: { path: '^lib/core/' },
      to: { pathNot: '^lib/core/', path: [own, '^node:(fs|fs/promises|worker_threads|child_process)$', '^(fs|worker_threads|child_process)$', '^@aws-sdk/'] },
    },
    { name: 'job-is-vocabulary', severity: 'error', from: { path: '^lib/job/' }, to: { path: own, pathNot: '^lib/(core|job)/' } },
    { name: 'local-not-cloud', severity: 'error', from: { path: '^lib/local/' }, to: { path: own, pathNot: '^lib/(core|job|local)/' } },
    { name: 'cloud-not-local', severity: 'error', from: { path: '^lib/cloud/' }, to: { path: own, pathNot: '^lib/(core|job|cloud)/' } },
    { name: 'report-under-cli', severity: 'error', from: { path: '^lib/report/' }, to: { path: ['^lib/cli/', '^functions/', '^cdk/'] } },
    { name: 'nothing-imports-the-cli', severity: 'error', from: { pathNot: '^(lib/cli|bin|test|bench)/' }, to: { path: '^lib/cli/' } },
    { name: 'functions-over-cloud', severity: 'error', from: { path: '^functions/' }, to: { path: '^lib/(local|cli|report)/' } },
    { name: 'lib-not-deployment', severity: 'error', from: { path: '^lib/', pathNot: '^lib/cli/' }, to: { path: '^(functions|cdk)/' } },
    { name: 'no-test-code-in-lib', severity: 'error', from: { path: '^(lib|functions|cdk|bin)/' }, to: { path: '^(test|bench)/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mjs', '.js'] },
  },
};
