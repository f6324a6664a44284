// CommonJS with the function under `module.exports.default` (what TypeScript's CommonJS output
// of `export default` looks like).
Object.defineProperty(exports, '__esModule', { value: true });
exports.default = async (job) => ({ via: 'module.exports.default', name: job.name });
