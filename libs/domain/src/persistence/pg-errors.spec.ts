import { classifyDbError } from './pg-errors';

describe('classifyDbError', () => {
  it.each([
    [undefined, 'retriable'],
    ['ECONNREFUSED', 'retriable'],
    ['ECONNRESET', 'retriable'],
    ['08006', 'retriable'], // connection failure
    ['57P01', 'retriable'], // admin shutdown (server restart)
    ['57P03', 'retriable'], // cannot connect now (starting up)
    ['53300', 'retriable'], // too many connections
    ['40001', 'retriable'], // serialization failure
    ['40P01', 'retriable'], // deadlock
    ['57014', 'retriable'], // statement timeout
    ['22021', 'data'], // invalid byte sequence
    ['22P02', 'data'], // invalid text representation
    ['23502', 'data'], // not null violation
    ['42P01', 'fatal'], // undefined table
    ['42703', 'fatal'], // undefined column
    ['42501', 'fatal'], // insufficient privilege
  ])('classifyDbError should classify %s as %s', (code, expected) => {
    expect(classifyDbError(code)).toBe(expected);
  });
});
