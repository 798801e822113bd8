import type { ScreenFactory, ScreenName } from '../app';
import { codeScreen, lockedScreen } from './code';
import { doneScreen } from './done';
import { enrollScreen } from './enroll';
import { exceptionsScreen } from './exceptions';
import { proofScreen } from './proof';
import { queueScreen } from './queue';
import { routeScreen } from './route';
import { depotScreen } from './depot';
import { scanScreen } from './scan';
import { settingsScreen } from './settings';
import { tokenScreen } from './token';
import { loadingScreen, updateScreen } from './update';
import { methodScreen } from './method';
import { openBoxScreen } from './openbox';

export const screens: Record<ScreenName, ScreenFactory> = {
  loading: loadingScreen,
  update: updateScreen,
  enroll: enrollScreen,
  route: routeScreen,
  scan: scanScreen,
  method: methodScreen,
  open_box: openBoxScreen,
  code: codeScreen,
  locked: lockedScreen,
  proof: proofScreen,
  done: doneScreen,
  exceptions: exceptionsScreen,
  token: tokenScreen,
  queue: queueScreen,
  settings: settingsScreen,
  depot: depotScreen,
};
