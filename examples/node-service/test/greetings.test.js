'use strict';

const { greeting, normaliseName, MAX_NAME } = require('../src/greetings');

describe('greeting', () => {
  test('greets the world without a name', () => {
    expect(greeting()).toBe('Hello, world!');
  });

  test('greets by name in each language', () => {
    expect(greeting('Ada', 'fr')).toBe('Bonjour, Ada!');
    expect(greeting('Ada', 'de')).toBe('Hallo, Ada!');
    expect(greeting('Ada', 'es')).toBe('Hola, Ada!');
  });

  test('refuses a language it does not speak', () => {
    expect(() => greeting('Ada', 'xx')).toThrow('unsupported language: xx');
  });
});

describe('normaliseName', () => {
  test('collapses whitespace', () => {
    expect(normaliseName('  Grace   Hopper ')).toBe('Grace Hopper');
  });

  test('refuses a name that is too long', () => {
    expect(() => normaliseName('x'.repeat(MAX_NAME + 1))).toThrow(RangeError);
  });
});
