// Prints deploy/k8s/base/kafka/topics.txt as rendered from the topology (libs/kafka/src/topology.ts):
//   TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx deploy/tools/render-topics.ts > deploy/k8s/base/kafka/topics.txt
// deploy/tests/topology.spec.ts fails when the committed file differs from this rendering.
import { renderTopicsFile } from '@wikimonitor/kafka';

process.stdout.write(renderTopicsFile());
