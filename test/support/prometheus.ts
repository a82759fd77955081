// Reads a gateway's Prometheus text answer for tests.
import http from 'node:http';

export interface Scrape {
  status: number;
  contentType: string;
  text: string;
  /** The value of `name{labels}` (labels exactly as printed, e.g. 'route="/a",direction="in"'); undefined if absent. */
  value(name: string, labels?: string): number | undefined;
}

export function scrape(port: number, path = '/metrics'): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const samples = new Map<string, number>();
          for (const line of text.split('\n')) {
            if (!line || line.startsWith('#')) continue;
            const at = line.lastIndexOf(' ');
            samples.set(line.slice(0, at), Number(line.slice(at + 1)));
          }
          resolve({
            status: res.statusCode!,
            contentType: String(res.headers['content-type']),
            text,
            value: (name, labels) => samples.get(labels ? `${name}{${labels}}` : name),
          });
        });
      })
      .on('error', reject);
  });
}
