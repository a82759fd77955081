// Where the repository and the CLI are, seen from the compiled tests (dist/test/support/).
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../../bin/wsgate.js', import.meta.url));
