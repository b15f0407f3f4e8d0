// Reads a Prometheus text exposition on stdin and prints the parsed metric families as JSON.
import parse from 'parse-prometheus-text-format';
let text = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) text += chunk;
process.stdout.write(JSON.stringify(parse(text)));
