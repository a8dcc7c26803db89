// The device names of the account page's sign-ins, from real User-Agent headers.
import t from 'tap';
import { deviceLabel } from '../../src/account/device-label.ts';

t.equal(
  deviceLabel(
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
  ),
  'Chrome on Linux',
);
t.equal(
  deviceLabel(
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91',
  ),
  'Edge on Windows',
  'Edge, not the Chrome it also names',
);
t.equal(
  deviceLabel(
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  ),
  'Safari on iOS',
  'iOS, not the Mac OS X it also names',
);
t.equal(
  deviceLabel('Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0'),
  'Firefox on macOS',
);
t.equal(
  deviceLabel(
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
  ),
  'Chrome on Android',
);
t.equal(deviceLabel('curl/8.5.0'), undefined, 'unrecognised: no name');
t.equal(deviceLabel(''), undefined);
t.equal(deviceLabel(undefined), undefined);
