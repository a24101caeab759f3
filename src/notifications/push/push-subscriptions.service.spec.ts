/// <reference types="jest" />
// The build tsconfig also compiles src/** (without jest types), hence the reference above.
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../config/app-config';
import { PushSubscriptions } from './push-subscriptions.service';

describe('push subscription endpoints', () => {
  const subscriptions = (hosts: string[]) => new PushSubscriptions({} as DataSource, { PUSH_SERVICE_HOSTS: hosts } as AppConfig);

  it('a push service entry without a port allows port 443 only', () => {
    const s = subscriptions(['fcm.googleapis.com', '*.push.apple.com']);
    expect(s.problemWith('https://fcm.googleapis.com/fcm/send/abc')).toBeUndefined();
    expect(s.problemWith('https://fcm.googleapis.com:443/fcm/send/abc')).toBeUndefined();
    expect(s.problemWith('https://fcm.googleapis.com:8080/fcm/send/abc')).toMatch(/PUSH_SERVICE_HOSTS/);
    expect(s.problemWith('https://api.push.apple.com:6379/3/device/x')).toMatch(/PUSH_SERVICE_HOSTS/);
  });

  it('an entry with a port allows that port only', () => {
    const s = subscriptions(['127.0.0.1:8443']);
    expect(s.problemWith('https://127.0.0.1:8443/push/1')).toBeUndefined();
    expect(s.problemWith('https://127.0.0.1:9/push/1')).toMatch(/PUSH_SERVICE_HOSTS/);
  });
});
