// A key made for these tests only (it holds nothing on any network).
export const PRIVATE_KEY = '99da56b1ae14fc38bfe848808df771d585b9418743e37452522f7fcb2317d49c01';
export const PUBLIC_KEY = '03f0a5a0525b0c2fd7f7ffa560315d278895b3c7c88b47de7be2a0e1edf0e3ddfc';
export const ADDRESS = 'SPMYA705ADHF9HNRJQG4ZW04X69ZBFV2GTZVEPRJ';
export const DAO = 'SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7.face-dao';
