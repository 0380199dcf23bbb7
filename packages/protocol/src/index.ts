export * from './close-codes';
export * from './frames';
