import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { balancedTarget } from '../../src/runner/supervisor';

describe('the runner target for a replicated node', () => {
  it('is the one address for one replica, and an ipv4: list grpc-js balances over for several', () => {
    assert.equal(balancedTarget(['unix:/tmp/x/a.sock']), 'unix:/tmp/x/a.sock');
    assert.equal(balancedTarget(['127.0.0.1:4001']), '127.0.0.1:4001');
    assert.equal(balancedTarget(['127.0.0.1:4001', '127.0.0.1:4002']), 'ipv4:127.0.0.1:4001,127.0.0.1:4002');
  });

  it('refuses a list grpc-js cannot balance over, naming the address', () => {
    assert.throws(
      () => balancedTarget(['127.0.0.1:4001', 'unix:/tmp/b.sock']),
      /cannot balance over 127\.0\.0\.1:4001, unix:\/tmp\/b\.sock: 'unix:\/tmp\/b\.sock' is not an IPv4 host:port/,
    );
  });
});
