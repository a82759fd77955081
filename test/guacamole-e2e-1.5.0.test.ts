// Guacamole end to end with the 1.5.0 client generation (npm package guacamole-common-js):
// its tunnel parses each message on its own, with lengths in UTF-16 units.
// The tests are in support/guacamole-e2e.ts.
import { guacamoleE2eTests } from './support/guacamole-e2e.js';

guacamoleE2eTests({ package: 'guacamole-common-js', buffering: false });
