'use strict';
// The service's logic, apart from HTTP so the unit tests call it directly.

const MAX_NAME = 64;

function greeting(name, language = 'en') {
  const who = normaliseName(name);
  const phrases = { en: 'Hello', fr: 'Bonjour', de: 'Hallo', es: 'Hola' };
  const hello = phrases[language];
  if (hello === undefined) {
    throw new RangeError(`unsupported language: ${language}`);
  }
  return `${hello}, ${who}!`;
}

function normaliseName(name) {
  if (name === undefined || name === null || String(name).trim() === '') {
    return 'world';
  }
  const text = String(name).trim().replace(/\s+/g, ' ');
  if (text.length > MAX_NAME) {
    throw new RangeError(`name longer than ${MAX_NAME} characters`);
  }
  return text;
}

module.exports = { greeting, normaliseName, MAX_NAME };
