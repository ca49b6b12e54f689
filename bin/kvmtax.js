#!/usr/bin/env node
// kvmtax: the CLI is compiled to dist/ (npm run build) and bundled into dist/bundle (esbuild: one module
// graph to load instead of hundreds of files, which is most of a short run's start-up).
import { run } from '../dist/bundle/main.js';
run();
