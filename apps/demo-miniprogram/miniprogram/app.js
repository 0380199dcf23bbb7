// The demo keeps all of its logic in pages/index; the app itself has nothing to set up.
App({});
