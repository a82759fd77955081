// Guacamole end to end with the 1.6.0 client generation (npm package @glokon/guacamole-common-js):
// its tunnel buffers instructions across messages (Guacamole.Parser, as 1.5.2 and later).
// The tests are in support/guacamole-e2e.ts.
import { guacamoleE2eTests } from './support/guacamole-e2e.js';

guacamoleE2eTests({ package: '@glokon/guacamole-common-js', buffering: true });
