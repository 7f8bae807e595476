// The public API: one namespace per kernel module, plus the shared pieces.
export * as kshram from './kshram';
export * as memoryInfo from './memory-info';
export * as fastnet from './fastnet';
export * as capture from './capture';
export { openCapture } from './capture';

export * as kmod from './kmod';
export { Mapping } from './mapping';
export { native } from './native';
