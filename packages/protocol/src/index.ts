export * from './close-codes';
export * from './frames';
export * from './messaging';
